//! Messages guests send through HTTP providers, verified by the providers' signatures and
//! queued for the inbound function unparsed (the API answers fast and reads nothing of them):
//!
//! - Twilio's incoming-message webhook, `POST /api/v1/webhooks/twilio/{tenant_id}/{provider_id}/inbound`
//!   (set it as the number's "A message comes in" URL): signed like the status callbacks;
//!   answered with an empty TwiML `<Response/>` (Herald answers, if it does, through the API).
//! - WhatsApp messages arrive on the provider's webhook with the statuses (see `webhooks`).
//!
//! Twilio signs no time: a replayed request is recognised downstream by its `MessageSid` (one
//! message in the thread however often it comes).

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;
use herald::ids::{ProviderId, TenantId};
use herald::inbound::notice::ProviderInbound;

use crate::problem::responses::{BadGateway, BadRequest, NotFound, PayloadTooLarge, Unauthorized};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

super::api_routes! {
    (twilio_inbound),
}

/// Whether a WhatsApp notification carries messages (not only statuses).
pub fn has_messages(body: &serde_json::Value) -> bool {
    body.get("entry")
        .and_then(|e| e.as_array())
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e.get("changes")
                    .and_then(|c| c.as_array())
                    .is_some_and(|changes| {
                        changes.iter().any(|c| {
                            c.pointer("/value/messages")
                                .and_then(|m| m.as_array())
                                .is_some_and(|m| !m.is_empty())
                        })
                    })
            })
        })
}

/// Sends a job to the inbound function's queue.
pub(crate) async fn to_inbound(state: &AppState, job: &impl serde::Serialize) -> ApiResult<()> {
    let body = serde_json::to_string(job).map_err(anyhow::Error::new)?;
    state
        .queues
        .sqs
        .send_message()
        .queue_url(&state.queues.inbound)
        .message_body(body)
        .send()
        .await
        .map_err(|e| {
            ApiError::Upstream(anyhow::Error::new(e).context("SQS SendMessage inbound"))
        })?;
    Ok(())
}

/// Queues a verified provider payload for the inbound function.
pub async fn queue(
    state: &AppState,
    kind: &str,
    tenant: TenantId,
    provider: ProviderId,
    payload: serde_json::Value,
) -> ApiResult<()> {
    let job = ProviderInbound {
        herald_inbound: kind.to_owned(),
        tenant_id: tenant,
        provider_id: provider,
        received_at: Utc::now(),
        payload,
    };
    to_inbound(state, &job).await?;
    tracing::info!(tenant_id = %tenant, provider_id = %provider, kind, "inbound messages queued");
    Ok(())
}

/// Queues the deletion of raw mails (an erased contact's) for the inbound function, which
/// owns the inbound bucket.
pub async fn erase_mail(state: &AppState, tenant: TenantId, keys: Vec<String>) -> ApiResult<()> {
    let (false, Some(bucket)) = (keys.is_empty(), &state.queues.inbound_bucket) else {
        return Ok(());
    };
    // SQS takes 256 KB a message: a thousand keys of ~50 bytes each fit many times.
    for chunk in keys.chunks(1000) {
        let job = herald::inbound::notice::EraseMail {
            herald_erase_mail: tenant,
            bucket: bucket.clone(),
            keys: chunk.to_vec(),
        };
        to_inbound(state, &job).await?;
    }
    tracing::info!(tenant_id = %tenant, objects = keys.len(), "raw mails queued for deletion");
    Ok(())
}

/// A message a guest sent to the tenant's Twilio number (SMS, or WhatsApp through Twilio):
/// queued for its conversation. 200 with an empty TwiML response; 401 without a valid
/// `X-Twilio-Signature`.
#[utoipa::path(post, path = "/api/v1/webhooks/twilio/{tenant_id}/{provider_id}/inbound", tag = "webhooks",
    params(("tenant_id" = TenantId, Path), ("provider_id" = ProviderId, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "queued", body = String, content_type = "text/xml"),
        BadRequest, Unauthorized, NotFound, PayloadTooLarge, BadGateway))]
pub async fn twilio_inbound(
    State(state): State<AppState>,
    Path((tenant, provider)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let (tenant, provider, form) =
        super::webhooks::verified_twilio(&state, (&tenant, &provider), &uri, &headers, &body)
            .await?;
    if !form.iter().any(|(k, v)| k == "MessageSid" && !v.is_empty()) {
        return Err(ApiError::BadRequest(
            "an incoming message names its MessageSid".into(),
        ));
    }
    let fields: serde_json::Map<String, serde_json::Value> = form
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    queue(&state, "twilio", tenant, provider.id, fields.into()).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
    ))
}
