//! Transactional messages: one message to one guest (or an ad-hoc recipient), sent through the
//! transactional queue (a lane of its own, never behind a campaign), with `Idempotency-Key`;
//! and reading any message's status.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use herald::config::Owner;
use herald::digest::sha256_hex;
use herald::domain::{Channel, TemplateCategory};
use herald::guests::{GuestIn, check_row};
use herald::ids::{EventId, GuestId, MessageId, TenantId};
use herald::messages::{Delivery, Message, MessageStatus, Recipient, SenderJob};
use herald::store::{IDEMPOTENCY_SECONDS, IdempotencyRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::extract::{StrictQuery, parse_json, path_id};
use crate::problem::responses::{BadGateway, Conflict};
use crate::problem::{ApiError, ApiResult};
use crate::scope::{TenantQuery, event_of};
use crate::state::AppState;

/// A queued message left without its SQS message (the API stopped between the two) is queued
/// again when its idempotency key is replayed after this long.
const REQUEUE_AFTER_SECONDS: i64 = 60;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    pub event_id: EventId,
    pub category: TemplateCategory,
    /// In order of preference (at least one); the guest's preferred channel wins when it is
    /// listed.
    #[schema(min_items = 1)]
    pub channels: Vec<Channel>,
    /// A guest of the event (a 422 when the event has no such guest)…
    pub guest_id: Option<GuestId>,
    /// …or an ad-hoc recipient (the guest import's row format): exactly one of the two.
    pub recipient: Option<GuestIn>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageAccepted {
    pub id: MessageId,
    pub status: MessageStatus,
    pub status_url: String,
}

super::api_routes! {
    (send_message),
    (get_message),
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key: 1 to 255 visible ASCII characters".into())
        })?;
    Ok(Some(key.to_owned()))
}

fn replay(record: &IdempotencyRecord) -> Response {
    let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = (status, record.response.clone()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    response
}

/// Send one transactional message: rendered from the event's active snapshot and delivered by
/// the sender (202 with the message id; follow it with `GET /communication/messages/{id}`).
/// With an `Idempotency-Key` header, the same key within 24 hours answers as the first time and
/// sends nothing new; the same key with a different body is a 409.
#[utoipa::path(post, path = "/api/v1/communication/messages", tag = "messages", params(TenantQuery,
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            pattern = "^[\t !-~]*[!-~][\t !-~]*$",
            description = "makes retries safe for 24 hours: 1 to 255 visible ASCII characters")),
    request_body = MessageIn, responses((status = 202, body = MessageAccepted), Conflict, BadGateway), security(("api_key" = [])))]
pub async fn send_message(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<TenantQuery>,
    request: Request,
) -> ApiResult<Response> {
    let key = idempotency_key(request.headers())?;
    let json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as Content-Type: application/json".into(),
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let canonical: serde_json::Value = parse_json(&bytes)?;
    let body: MessageIn = parse_json(&bytes)?;
    let tenant = principal.tenant_scope(q.tenant_id)?;
    let request_hash = sha256_hex(canonical.to_string());
    let key_hash = key.as_ref().map(|k| sha256_hex(format!("{tenant}:{k}")));
    if let Some(answer) = prior_answer(&state, tenant, key_hash.as_deref(), &request_hash).await? {
        return Ok(answer);
    }
    let (tenant, event) = event_of(&state, &principal, Some(tenant), body.event_id).await?;
    principal.check_write(Owner::Event(tenant, event))?;
    let mut channels = body.channels.clone();
    channels.dedup();
    if channels.is_empty() {
        return Err(ApiError::invalid_field(
            "channels",
            "name at least one channel",
        ));
    }
    let recipient = recipient_of(&state, tenant, event, &body).await?;
    let contact = recipient.contact_id;
    let active = state
        .store
        .get_wizard(tenant, event)
        .await?
        .and_then(|w| w.active);
    if active.is_none() {
        return Err(ApiError::Conflict {
            detail: "the event has no active snapshot: complete its setup wizard first".into(),
            current_version: None,
        });
    }
    let id = match &key_hash {
        Some(hash) => MessageId::derived(&["idempotency", hash]),
        None => MessageId::new(),
    };
    let now = Utc::now();
    let retention = state
        .store
        .get_tenant(tenant)
        .await?
        .and_then(|t| t.retention_days);
    let message = Message::queued(
        id,
        (tenant, event, None),
        recipient.guest_id,
        body.category,
        herald::store::message_ttl(retention, now),
        now,
    );
    let accepted = MessageAccepted {
        id,
        status: MessageStatus::Queued,
        status_url: format!("/api/v1/communication/messages/{id}"),
    };
    let response = serde_json::to_string(&accepted).map_err(anyhow::Error::new)?;
    let record = key_hash.as_ref().map(|hash| {
        (
            hash.as_str(),
            IdempotencyRecord {
                request_hash: request_hash.clone(),
                message_id: id,
                status: 202,
                response: response.clone(),
                created_at: now,
                ttl: now.timestamp() + IDEMPOTENCY_SECONDS,
            },
        )
    });
    let job = serde_json::to_string(&SenderJob::Deliver {
        tenant_id: tenant,
        event_id: event,
        campaign_id: None,
        snapshot_version: None,
        category: body.category,
        channels,
        deliveries: vec![Delivery {
            message_id: id,
            recipient,
        }],
        not_before: None,
    })
    .map_err(anyhow::Error::new)?;
    let message = Message {
        pending_job: Some(job.clone()),
        ..message
    };
    // Indexed under its contact first (export and erasure find it; an index entry whose
    // message was never created is harmless).
    if let Some(contact) = contact {
        state
            .store
            .index_contact_message(tenant, contact, id)
            .await?;
    }
    let created = state
        .store
        .create_message(tenant, &message, record.as_ref().map(|(h, r)| (*h, r)))
        .await?;
    if !created {
        // Another request with the same key won the race: answer as it did.
        if let Some(answer) =
            prior_answer(&state, tenant, key_hash.as_deref(), &request_hash).await?
        {
            return Ok(answer);
        }
        return Err(ApiError::Conflict {
            detail: "this message already exists".into(),
            current_version: None,
        });
    }
    enqueue(&state, job).await?;
    tracing::info!(tenant_id = %tenant, event_id = %event, message_id = %id, "transactional message queued");
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// The first answer given for this idempotency key, if there was one (a 409 when the body differs).
async fn prior_answer(
    state: &AppState,
    tenant: TenantId,
    key_hash: Option<&str>,
    request_hash: &str,
) -> ApiResult<Option<Response>> {
    let Some(hash) = key_hash else {
        return Ok(None);
    };
    match state.store.get_idempotency(tenant, hash).await? {
        Some(record) => answer_replay(state, tenant, &record, request_hash)
            .await
            .map(Some),
        None => Ok(None),
    }
}

async fn answer_replay(
    state: &AppState,
    tenant: TenantId,
    record: &IdempotencyRecord,
    request_hash: &str,
) -> ApiResult<Response> {
    if record.request_hash != request_hash {
        return Err(ApiError::Conflict {
            detail: "this Idempotency-Key was used with a different body in the last 24 hours"
                .into(),
            current_version: None,
        });
    }
    // A message the first request recorded but may not have queued is queued again (a second
    // job for it is harmless: the sender's claim lets one of them send).
    if let Some(m) = state.store.get_message(tenant, record.message_id).await? {
        let stale = Utc::now() - m.created_at > Duration::seconds(REQUEUE_AFTER_SECONDS);
        if let (MessageStatus::Queued, true, Some(job)) = (m.status, stale, m.pending_job) {
            tracing::warn!(message_id = %m.id, "queueing again a message found queued on replay");
            enqueue(state, job).await?;
        }
    }
    Ok(replay(record))
}

/// The recipient: a guest of the event, or an ad-hoc one checked like an imported row.
async fn recipient_of(
    state: &AppState,
    tenant: TenantId,
    event: EventId,
    body: &MessageIn,
) -> ApiResult<Recipient> {
    match (&body.guest_id, &body.recipient) {
        (Some(id), None) => {
            let guest = state
                .store
                .get_guest(tenant, event, *id)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_field("guest_id", "no such guest in this event")
                })?;
            Ok(Recipient::from(&guest))
        }
        (None, Some(row)) => {
            let checked = check_row(row.clone()).map_err(|issues| {
                ApiError::invalid(
                    issues
                        .into_iter()
                        .map(|(f, m)| {
                            herald::providers::FieldIssue::new(format!("recipient.{f}"), m)
                        })
                        .collect(),
                )
            })?;
            let contact_id = state
                .store
                .find_contact(tenant, checked.email.as_ref(), checked.phone.as_ref())
                .await?;
            Ok(Recipient {
                guest_id: None,
                contact_id,
                preferred_channel: checked.preferred_channel,
                vars: checked.into(),
            })
        }
        _ => Err(ApiError::invalid_field(
            "guest_id",
            "give either guest_id or recipient",
        )),
    }
}

/// Queues a transactional job on the transactional queue.
async fn enqueue(state: &AppState, body: String) -> ApiResult<()> {
    state.queues.to_transactional_body(body).await
}

/// A message and its delivery story.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    #[serde(flatten)]
    pub message: Message,
    /// How far delivery got, by the providers' reports: the highest of sent → delayed →
    /// delivered → opened → clicked, or bounced, rejected, rendering_failed, failed,
    /// complained. It only moves forward. Absent until a provider reports.
    pub delivery_state: Option<herald::domain::DeliveryEvent>,
    /// The providers' reports, oldest first.
    pub events: Vec<herald::tracking::TimelineEvent>,
}

/// A message: status (queued, sending, sent, failed, suppressed, no_consent, no_address),
/// channel, provider, provider message id, attempts, last error; and its delivery story
/// (`delivery_state` and the timestamped `events` providers reported: sent, delivered,
/// opened, clicked, bounced with its type, complained, …). One DynamoDB Query.
#[utoipa::path(get, path = "/api/v1/communication/messages/{id}", tag = "messages", params(("id" = MessageId, Path), TenantQuery),
    responses((status = 200, body = MessageView)), security(("api_key" = [])))]
pub async fn get_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<TenantQuery>,
) -> ApiResult<Json<MessageView>> {
    let id: MessageId = path_id(&id)?;
    let tenant = principal.tenant_scope(q.tenant_id)?;
    let Some((Some(message), mut events)) = state.store.message_with_events(tenant, id).await?
    else {
        return Err(ApiError::NotFound);
    };
    principal.check_event(message.event_id)?;
    for e in &mut events {
        e.identity.clear();
    }
    Ok(Json(MessageView {
        delivery_state: herald::tracking::delivery_state(&events),
        events,
        message: Message {
            pending_job: None,
            ..message
        },
    }))
}
