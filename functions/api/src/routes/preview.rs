//! Previews and test sends: any template of an event rendered with sample or given guest data
//! and the event's brand, and one test message through the event's resolved provider.

use axum::Json;
use axum::extract::{Path, State};
use herald::domain::{Channel, EmailAddress, Layer, PhoneE164, ProviderKind, TemplateCategory};
use herald::ids::{EventId, ProviderId, TemplateId};
use herald::providers::send::{From, Outgoing, SendError, send};
use herald::render::{CompiledTemplate, GuestVars, RenderedMessage};
use herald::wizard::SnapshotContent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wizard::{load_current, load_writable};
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Conflict};
use crate::problem::{ApiError, ApiResult};
use crate::scope::TenantQuery;
use crate::state::AppState;

/// Which configuration to preview against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewSource {
    /// The layers as they are now (what the next completion would freeze).
    #[default]
    Live,
    /// The active snapshot (what campaigns send).
    Active,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// The guest to render for; sample data when absent. Unknown fields and wrong types are a 422.
    pub guest: Option<GuestVars>,
    #[serde(default)]
    pub source: PreviewSource,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// The layer whose template was rendered.
    pub layer: Layer,
    pub template_id: TemplateId,
    pub template_version: u64,
    /// With `source: active`: the snapshot rendered from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<u64>,
    /// Subject, HTML and text for email; text for SMS (with its segments) and WhatsApp.
    pub rendered: RenderedMessage,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSendIn {
    pub category: TemplateCategory,
    pub channel: Channel,
    /// An email address for email, an E.164 number for SMS and WhatsApp.
    #[schema(max_length = 254)]
    pub to: String,
    pub guest: Option<GuestVars>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestSendOut {
    pub provider_id: ProviderId,
    pub provider_kind: ProviderKind,
    /// The provider's id for the message (SES MessageId, Twilio SID, ...).
    pub provider_message_id: String,
    pub rendered: RenderedMessage,
}

super::api_routes! {
    (preview),
    (send_test),
}

/// Renders the slot's template from `content`, or says why it cannot.
fn render(
    content: &SnapshotContent,
    category: TemplateCategory,
    channel: Channel,
    guest: Option<GuestVars>,
) -> ApiResult<(Layer, TemplateId, u64, RenderedMessage)> {
    let resolved = content.config.template(category, channel).ok_or_else(|| {
        ApiError::invalid_field(
            "category",
            format!("no {channel} template for {category} at the event, tenant or platform"),
        )
    })?;
    let context = content.render_context(guest);
    let rendered = CompiledTemplate::new(channel, &resolved.template.content)
        .and_then(|t| t.render(&context, &content.config.compliance))
        .map_err(|syntax_errors| ApiError::Validation {
            detail: format!(
                "template {} does not render with this guest data",
                resolved.template.id
            ),
            errors: Vec::new(),
            syntax_errors,
        })?;
    Ok((
        resolved.source,
        resolved.template.id,
        resolved.template.version,
        rendered,
    ))
}

/// Preview a template for an event: rendered with sample or given guest data and the event's
/// brand, from the live layers or the active snapshot. Email gives subject, HTML and text; SMS
/// its text and segment count (GSM-7 or UCS-2); WhatsApp its text.
#[utoipa::path(post, path = "/api/v1/events/{id}/preview", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = PreviewIn, responses((status = 200, body = PreviewOut), Conflict), security(("api_key" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    let current = load_current(&state, &principal, q.tenant_id, &id).await?;
    let (content, snapshot_version) = match body.source {
        PreviewSource::Live => (current.content(), None),
        PreviewSource::Active => {
            let snapshot = state
                .store
                .get_snapshot(current.tenant, current.event, None)
                .await?
                .ok_or_else(|| ApiError::Conflict {
                    detail: "the event has no active snapshot yet: complete its wizard first"
                        .to_owned(),
                    current_version: None,
                })?;
            (snapshot.content, Some(snapshot.version))
        }
    };
    let (layer, template_id, template_version, rendered) =
        render(&content, body.category, body.channel, body.guest)?;
    Ok(Json(PreviewOut {
        category: body.category,
        channel: body.channel,
        layer,
        template_id,
        template_version,
        snapshot_version,
        rendered,
    }))
}

/// Send one test message of a template to a given address through the event's first active
/// provider for the channel (the live layers). The message is tagged as a test.
#[utoipa::path(post, path = "/api/v1/events/{id}/preview/send", tag = "wizard", params(("id" = EventId, Path), TenantQuery),
    request_body = TestSendIn, responses((status = 200, body = TestSendOut), BadGateway), security(("api_key" = [])))]
pub async fn send_test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
    JsonBody(body): JsonBody<TestSendIn>,
) -> ApiResult<Json<TestSendOut>> {
    let (current, _) = load_writable(&state, &principal, q.tenant_id, &id).await?;
    let to = match body.channel {
        Channel::Email => EmailAddress::parse(&body.to)
            .map(|a| a.as_str().to_owned())
            .map_err(|_| ApiError::invalid_field("to", "an email address"))?,
        Channel::Sms | Channel::Whatsapp => PhoneE164::parse(&body.to)
            .map(|p| p.as_str().to_owned())
            .map_err(|_| ApiError::invalid_field("to", "a phone number in E.164 form"))?,
    };
    let content = current.content();
    let (_, _, _, rendered) = render(&content, body.category, body.channel, body.guest)?;
    let provider = content
        .config
        .providers_for(body.channel)
        .and_then(|p| p.providers.first())
        .ok_or_else(|| {
            ApiError::invalid_field(
                "channel",
                format!("the event has no active {} provider", body.channel),
            )
        })?;
    let credentials = state
        .sealer
        .open(
            current.tenant,
            &provider.id.to_string(),
            &provider.credentials,
        )
        .await
        .map_err(ApiError::Upstream)?;
    let from = content.email_sender.as_ref().map(|s| From {
        address: s.from_address.as_str().to_owned(),
        name: s.from_name.clone(),
    });
    let outgoing = Outgoing {
        to: &to,
        from: from.filter(|_| body.channel == Channel::Email),
        message: &rendered,
        tags: vec![
            ("herald_tenant".into(), current.tenant.to_string()),
            ("herald_event".into(), current.event.to_string()),
            ("herald_test".into(), "true".into()),
        ],
        headers: Vec::new(),
        reply_to: None,
        configuration_set: None,
        // A test send is no message of record: nothing to track.
        tracking: None,
    };
    let message_id = send(&state.providers, provider, &credentials, &outgoing)
        .await
        .map_err(|e| {
            let reason = match &e {
                SendError::Retryable(r) => format!("the provider failed, try again: {r}"),
                SendError::Throttled { reason, .. } => {
                    format!("the provider is throttling, try again later: {reason}")
                }
                SendError::Permanent(r) => format!("the provider refused the message: {r}"),
            };
            ApiError::Upstream(anyhow::anyhow!(reason))
        })?;
    tracing::info!(tenant_id = %current.tenant, event_id = %current.event, provider_id = %provider.id, "test message sent");
    Ok(Json(TestSendOut {
        provider_id: provider.id,
        provider_kind: provider.kind,
        provider_message_id: message_id,
        rendered,
    }))
}
