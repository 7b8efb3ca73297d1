//! Delivery receipts from HTTP providers, verified by their signatures (no API key):
//!
//! - Twilio status callbacks, `POST /api/v1/webhooks/twilio/{tenant_id}/{provider_id}`: the
//!   sender gives every Twilio message this URL (with the message in the query), and Twilio
//!   signs each call with the account's auth token (`X-Twilio-Signature`: HMAC-SHA1 of the full
//!   URL and the sorted form fields).
//! - WhatsApp Cloud API webhooks, `/api/v1/webhooks/whatsapp/{tenant_id}/{provider_id}` (set
//!   it as the Meta app's callback URL): `GET` answers Meta's verification request with the
//!   provider's `verify_token` credential; `POST` bodies are signed with the app secret
//!   (`X-Hub-Signature-256`) and each status names its message through the
//!   `biz_opaque_callback_data` the sender set.
//!
//! A callback that is unsigned or mis-signed gets 401 and changes nothing. Verified reports go
//! through the same ingestion as SES's events (state only forward, duplicates counted once).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use herald::config::Provider;
use herald::domain::ProviderKind;
use herald::ids::{CampaignId, EventId, MessageId, ProviderId, TenantId};
use herald::tracking::{CallbackContext, Unusable, parse_twilio, parse_whatsapp};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::responses::{
    BadGateway, BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized,
};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

super::api_routes! {
    (twilio_status),
    (whatsapp_verify, whatsapp_status),
}

/// The provider a callback path names: `kind`, of that tenant. A malformed id or another
/// kind is a 404 (nothing about the tenant is revealed).
async fn provider_of(
    state: &AppState,
    tenant: &str,
    provider: &str,
    kind: ProviderKind,
) -> ApiResult<(TenantId, Provider, BTreeMap<String, String>)> {
    let tenant: TenantId = tenant.parse().map_err(|_| ApiError::NotFound)?;
    let id: ProviderId = provider.parse().map_err(|_| ApiError::NotFound)?;
    let provider = state
        .store
        .query_prefix::<Provider>(&herald::store::keys::providers_pk(tenant), "")
        .await?
        .into_iter()
        .find(|p| p.id == id && p.kind == kind)
        .ok_or(ApiError::NotFound)?;
    let credentials = state
        .sealer
        .open(tenant, &provider.id.to_string(), &provider.credentials)
        .await
        .map_err(ApiError::Upstream)?;
    Ok((tenant, provider, credentials))
}

/// The URL a provider called: Herald's public URL (`HERALD_PUBLIC_URL`) or, without one, the
/// request's own scheme and host; then the path and query as received.
fn called_url(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    format!("{}{path}", state.public_base(headers))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TwilioQuery {
    /// The message the callback is about (set by the sender).
    #[param(value_type = MessageId)]
    pub message: String,
    #[param(value_type = Option<EventId>)]
    pub event: Option<String>,
    #[param(value_type = Option<CampaignId>)]
    pub campaign: Option<String>,
}

/// A Twilio status callback for a message Herald sent (`sent`, `delivered`, `undelivered`,
/// `failed`, `read`; other statuses are acknowledged and ignored). 204 when taken; 401
/// without a valid `X-Twilio-Signature`.
#[utoipa::path(post, path = "/api/v1/webhooks/twilio/{tenant_id}/{provider_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("provider_id" = ProviderId, Path), TwilioQuery,
        ("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "taken (or a status Herald does not track)"), BadRequest, Unauthorized, NotFound, PayloadTooLarge, BadGateway))]
pub async fn twilio_status(
    State(state): State<AppState>,
    Path((tenant, provider)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (tenant, provider, credentials) =
        provider_of(&state, &tenant, &provider, ProviderKind::Twilio).await?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::BadRequest("the body is not form-encoded".into()))?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|h| h.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let token = credentials.get("auth_token").cloned().unwrap_or_default();
    let url = called_url(&state, &headers, &uri);
    if !herald::tracking::verify_twilio(&token, &url, &form, signature) {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a Twilio callback with a bad signature was refused");
        return Err(ApiError::Unauthorized);
    }
    let q: TwilioQuery = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|_| ApiError::BadRequest("the callback URL names no message".into()))?;
    let bad = |what: &str| ApiError::BadRequest(format!("the callback URL's {what} is not an id"));
    let context = CallbackContext {
        tenant,
        provider: provider.id,
        message: q.message.parse::<MessageId>().map_err(|_| bad("message"))?,
        event: q
            .event
            .map(|e| e.parse::<EventId>())
            .transpose()
            .map_err(|_| bad("event"))?,
        campaign: q
            .campaign
            .map(|c| c.parse::<CampaignId>())
            .transpose()
            .map_err(|_| bad("campaign"))?,
    };
    match parse_twilio(&form, &context, Utc::now()) {
        Ok(event) => {
            let mut events = [event];
            expire_with_messages(&state, &mut events).await?;
            state.store.ingest_events(&events).await?;
            emit_message_events(&state, &events).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(Unusable::Ignored(_)) => Ok(StatusCode::NO_CONTENT),
        Err(why) => Err(ApiError::BadRequest(why.to_string())),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Meta's webhook verification: answers `hub.challenge` when `hub.verify_token` is the
/// provider's `verify_token` credential; 403 otherwise.
#[utoipa::path(get, path = "/api/v1/webhooks/whatsapp/{tenant_id}/{provider_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("provider_id" = ProviderId, Path), VerifyQuery),
    responses((status = 200, body = String, content_type = "text/plain"), Forbidden, NotFound, BadGateway))]
pub async fn whatsapp_verify(
    State(state): State<AppState>,
    Path((tenant, provider)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<VerifyQuery>,
) -> ApiResult<String> {
    let (_, _, credentials) =
        provider_of(&state, &tenant, &provider, ProviderKind::WhatsappCloud).await?;
    let expected = credentials.get("verify_token");
    match (q.mode.as_deref(), q.verify_token, expected, q.challenge) {
        (Some("subscribe"), Some(given), Some(expected), Some(challenge))
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                given.as_bytes(),
                expected.as_bytes(),
            )
            .is_ok() =>
        {
            Ok(challenge)
        }
        _ => Err(ApiError::Forbidden(
            "hub.verify_token does not match the provider's verify_token credential".into(),
        )),
    }
}

/// A WhatsApp Cloud API webhook: each status (`sent`, `delivered`, `read`, `failed`) of a
/// message Herald sent moves that message. 200 when taken; 401 without a valid
/// `X-Hub-Signature-256` (or when the provider has no `app_secret` credential to check it).
#[utoipa::path(post, path = "/api/v1/webhooks/whatsapp/{tenant_id}/{provider_id}", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("provider_id" = ProviderId, Path),
        ("X-Hub-Signature-256" = String, Header, description = "sha256= and the HMAC of the body")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "taken"), BadRequest, Unauthorized, NotFound, PayloadTooLarge, BadGateway))]
pub async fn whatsapp_status(
    State(state): State<AppState>,
    Path((tenant, provider)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (tenant, provider, credentials) =
        provider_of(&state, &tenant, &provider, ProviderKind::WhatsappCloud).await?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|h| h.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let Some(secret) = credentials.get("app_secret") else {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a WhatsApp webhook arrived for a provider without an app_secret credential");
        return Err(ApiError::Unauthorized);
    };
    if !herald::tracking::verify_whatsapp(secret, &body, signature) {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a WhatsApp webhook with a bad signature was refused");
        return Err(ApiError::Unauthorized);
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("the body is not JSON".into()))?;
    let statuses = parse_whatsapp(&value, tenant, provider.id)
        .map_err(|why| ApiError::BadRequest(why.to_string()))?;
    let mut events = Vec::new();
    for status in statuses {
        match status {
            Ok(e) => events.push(e),
            Err(why) => {
                tracing::info!(tenant_id = %tenant, provider_id = %provider.id, reason = %why, "skipping a WhatsApp status")
            }
        }
    }
    if !events.is_empty() {
        expire_with_messages(&state, &mut events).await?;
        state.store.ingest_events(&events).await?;
        emit_message_events(&state, &events).await?;
    }
    Ok(StatusCode::OK)
}

/// Queues the `message.*` webhooks of status callbacks; a failure fails the callback, so the
/// provider sends it again (the events are recognised as recorded, the webhooks keep their ids).
async fn emit_message_events(
    state: &AppState,
    events: &[herald::tracking::Tracked],
) -> ApiResult<()> {
    let wanted: Vec<_> = events
        .iter()
        .filter_map(herald::webhooks::message_event)
        .collect();
    state
        .webhooks
        .emit(&wanted)
        .await
        .map_err(|e| ApiError::Upstream(e.context("queuing webhooks")))?;
    Ok(())
}

/// Receipts name no retention: their events expire with their messages' records (read in one
/// BatchGetItem per tenant; an event whose message is not recorded yet keeps none).
async fn expire_with_messages(
    state: &AppState,
    events: &mut [herald::tracking::Tracked],
) -> ApiResult<()> {
    let mut by_tenant: BTreeMap<TenantId, Vec<MessageId>> = BTreeMap::new();
    for e in events.iter() {
        by_tenant.entry(e.tenant).or_default().push(e.message);
    }
    for (tenant, ids) in by_tenant {
        let found = state.store.get_messages(tenant, &ids).await?;
        for e in events.iter_mut().filter(|e| e.tenant == tenant) {
            e.expires = found.get(&e.message).and_then(|m| m.ttl);
        }
    }
    Ok(())
}
