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
//! A callback that is unsigned or mis-signed gets 401 (`/problems/bad-signature`, saying what
//! failed) and changes nothing. A verified callback's reports count only for messages Herald
//! sent for the tenant: sealed by the sender (the callback URL's `seal`, the callback data's
//! last field), or about a message recorded in the tenant; then they go through the same
//! ingestion as SES's events (state only forward, duplicates counted once).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use herald::config::Provider;
use herald::domain::ProviderKind;
use herald::ids::{CampaignId, ContactId, EventId, MessageId, ProviderId, TenantId};
use herald::tracking::seal::SealState;
use herald::tracking::{
    CallbackContext, Tracked, Unusable, Verdict, Voucher, parse_twilio, parse_whatsapp,
};
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
    /// The contact the message was for.
    #[param(value_type = Option<herald::ids::ContactId>)]
    pub contact: Option<String>,
    /// When the message's record expires (Unix seconds).
    pub expires: Option<i64>,
    /// The sender's seal over the ids above: 128 bits as 22 characters of base64url. A
    /// callback without one counts only for a message recorded in the tenant.
    #[param(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub seal: Option<String>,
}

/// A Twilio request for a provider of the tenant, its `X-Twilio-Signature` verified: the
/// tenant, the provider and the form's fields.
pub(crate) async fn verified_twilio(
    state: &AppState,
    (tenant, provider): (&str, &str),
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(TenantId, Provider, Vec<(String, String)>)> {
    let (tenant, provider, credentials) =
        provider_of(state, tenant, provider, ProviderKind::Twilio).await?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::BadRequest("the body is not form-encoded".into()))?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::BadSignature("no X-Twilio-Signature header".into()))?;
    let token = credentials.get("auth_token").cloned().unwrap_or_default();
    let url = called_url(state, headers, uri);
    if !herald::tracking::verify_twilio(&token, &url, &form, signature) {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a Twilio request with a bad signature was refused");
        return Err(ApiError::BadSignature(
            "X-Twilio-Signature is not the signature of this URL and form under the provider's auth_token"
                .into(),
        ));
    }
    Ok((tenant, provider, form))
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
    let (tenant, provider, form) =
        verified_twilio(&state, (&tenant, &provider), &uri, &headers, &body).await?;
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
        contact: q
            .contact
            .map(|c| c.parse::<ContactId>())
            .transpose()
            .map_err(|_| bad("contact"))?,
        expires: q.expires,
        seal: SealState::read(q.seal.as_deref()),
    };
    match parse_twilio(&form, &context, Utc::now()) {
        Ok(event) => {
            ingest_vouched(&state, vec![event]).await?;
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
    let refused = |why: &str| Err(ApiError::VerificationRefused(why.to_owned()));
    if q.mode.as_deref() != Some("subscribe") {
        return refused("hub.mode must be subscribe");
    }
    let Some(expected) = credentials.get("verify_token") else {
        return refused(
            "the provider has no verify_token credential to check hub.verify_token with",
        );
    };
    let Some(given) = q.verify_token else {
        return refused("hub.verify_token is missing");
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes())
        .is_err()
    {
        return refused("hub.verify_token does not match the provider's verify_token credential");
    }
    match q.challenge {
        Some(challenge) => Ok(challenge),
        None => refused("hub.challenge is missing"),
    }
}

/// A WhatsApp Cloud API webhook: each status (`sent`, `delivered`, `read`, `failed`) of a
/// message Herald sent moves that message; messages the guest sent are queued for the
/// inbound function (their conversation). 200 when taken; 401 without a valid
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
        .ok_or_else(|| ApiError::BadSignature("no X-Hub-Signature-256 header".into()))?;
    let Some(secret) = credentials.get("app_secret") else {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a WhatsApp webhook arrived for a provider without an app_secret credential");
        return Err(ApiError::BadSignature(
            "the provider has no app_secret credential to check X-Hub-Signature-256 with".into(),
        ));
    };
    if !herald::tracking::verify_whatsapp(secret, &body, signature) {
        tracing::warn!(tenant_id = %tenant, provider_id = %provider.id, "a WhatsApp webhook with a bad signature was refused");
        return Err(ApiError::BadSignature(
            "X-Hub-Signature-256 is not the signature of this body under the provider's app_secret"
                .into(),
        ));
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
        ingest_vouched(&state, events).await?;
    }
    // Messages the guest sent: to the inbound function, unparsed (it reads them).
    if super::inbound_webhooks::has_messages(&value) {
        super::inbound_webhooks::queue(&state, "whatsapp", tenant, provider.id, value).await?;
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

/// Records the callbacks' reports that Herald vouches for: sealed by the sender, or about a
/// message recorded in the tenant (see `herald::tracking::vouch`); the others are logged by
/// ids and left out (a provider does not send a status callback again, so an early one is
/// not held: every message Herald sends now is sealed).
async fn ingest_vouched(state: &AppState, reports: Vec<Tracked>) -> ApiResult<()> {
    let verdicts = Voucher::new(state.store.clone(), state.links.clone())
        .vouch(reports)
        .await
        .map_err(ApiError::Upstream)?;
    let mut trusted = Vec::new();
    for verdict in verdicts {
        match verdict {
            Verdict::Trusted(report) => trusted.push(report),
            Verdict::Untrusted(report, why) => {
                tracing::warn!(tenant_id = %report.tenant, message_id = %report.message, reason = why, "an untrusted provider callback report was dropped");
            }
            Verdict::Unknown(report) => {
                tracing::warn!(tenant_id = %report.tenant, message_id = %report.message, "a provider callback about a message the tenant has no record of was dropped");
            }
        }
    }
    if trusted.is_empty() {
        return Ok(());
    }
    state.store.ingest_events(&trusted).await?;
    emit_message_events(state, &trusted).await
}
